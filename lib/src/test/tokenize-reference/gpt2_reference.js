// Writes GPT-2 token ids for a list of tricky strings, computed by the JavaScript GPT-2 encoder in the npm
// package gpt-3-encoder (a port of OpenAI's encoder.py), as an independent reference for Gpt2Tokenizer.
// Usage: node gpt2_reference.js PACKAGE_DIR [OUT_JSON]   (see README.md beside this file)
'use strict';
const fs = require('fs');
const path = require('path');

const packageDir = process.argv[2];
if (!packageDir) {
  console.error('usage: node gpt2_reference.js PACKAGE_DIR [OUT_JSON]');
  process.exit(2);
}
const out = process.argv[3]
  || path.join(__dirname, '..', 'resources', 'dev', 'loupe', 'tokenize', 'gpt2_reference.json');
const { encode, decode } = require(path.resolve(packageDir));
const version = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8')).version;

// The package knows no special tokens; Hugging Face's GPT-2 tokenizer treats <|endoftext|> anywhere in the
// text as the single token 50256. So the text is split there and each piece encoded on its own, as HF does.
const EOT = '<|endoftext|>';
const EOT_ID = 50256;
function encodeWithSpecial(text) {
  const ids = [];
  text.split(EOT).forEach((piece, i) => {
    if (i > 0) ids.push(EOT_ID);
    ids.push(...encode(piece));
  });
  return ids;
}

const strings = [
  '',
  'Hello world',
  ' Mary',
  ' John',
  'Mary',
  'When John and Mary went to the shops, John gave a drink to',
  'The quick brown fox jumps over the lazy dog.',
  // spaces, newlines, tabs
  ' ',
  '   ',
  '  two leading spaces',
  'trailing spaces   ',
  'multiple   spaces    inside',
  '\n',
  '\n\n\n',
  'line one\nline two\n\nline four\n',
  'tabs\tand\t\ttabs',
  '\r\nwindows line ends\r\n',
  ' \n \t mixed \t\n ',
  'end with newline and spaces \n  ',
  // contractions
  "It's they're we've I'm you'll he'd don't",
  "IT'S UPPER 'S 'RE",
  "'s 're 've 'm 'll 'd 't",
  "rock 'n' roll ''quoted''",
  "John's book; the Marys' house",
  // unicode
  'café résumé naïve',
  'e\u0301 combining acute, a\u0308 diaeresis, n\u0303',
  '日本語のテキスト',
  '中文，标点。',
  'Привет, мир!',
  'مرحبا بالعالم',
  'Γειά σου Κόσμε',
  '👋🏽 waving hand, medium skin tone',
  'family 👨‍👩‍👧‍👦 joined',
  '🤖🚀✨',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 mathematical letters',
  'no\u00a0break space',
  'a \u00a0b, x \u3000y, wide\u3000\u3000 space',
  'line\u2028separator \u2029 paragraph',
  'zero\u200bwidth space',
  'ĠĠ characters of the byte table Ġ Ċ',
  '\u0000 nul and \u0007 bell and \u007f delete',
  // digits
  '2024 1,000,000 3.14159',
  '12345678901234567890',
  '٣٤٥ Arabic-Indic digits',
  'Ⅻ Roman numeral ½ ¾',
  '-42 +7 1e-9 0x1F',
  // punctuation
  '!!!???...',
  '--- *** ### ===',
  '(a) [b] {c} <d>',
  '"double" \'single\' `back`',
  'a+b=c; x*y/z % 2',
  '@user #hashtag $100 50% ^&*',
  '~`|\\',
  'https://example.com/path?q=1&r=two#frag',
  'C:\\Users\\name\\file.txt',
  // code with indentation
  'def f(x):\n    return x * 2\n\nif __name__ == "__main__":\n\tprint(f(21))\n',
  '    indented four\n        indented eight\n',
  'public static void main(String[] args) {\n    System.out.println("hi");\n}\n',
  // long words
  'pneumonoultramicroscopicsilicovolcanoconiosis',
  'antidisestablishmentarianism Supercalifragilisticexpialidocious',
  'abc'.repeat(100),
  // the special token
  '<|endoftext|>',
  'Hello<|endoftext|>world',
  ' <|endoftext|> ',
  '<|endoftext|><|endoftext|>',
  'text\n<|endoftext|>\nmore',
  '<|endoftext|',
  '<|endoftext >',
];

// Where this package's regex disagrees with Hugging Face's: JavaScript's \s takes U+FEFF as whitespace and
// U+0085 (NEL) as not, the opposite of Hugging Face's, which shows after a space. The Java test checks that
// these ids do differ from Hugging Face's, and follows Hugging Face.
const jsDiffers = [' \uFEFFword', 'x \uFEFFy', ' \u0085word', 'a \u0085b'];

const cases = strings.map(text => {
  const ids = encodeWithSpecial(text);
  const decoded = decode(ids);
  if (decoded !== text) {
    throw new Error('gpt-3-encoder does not round-trip ' + JSON.stringify(text) + ': ' + JSON.stringify(decoded));
  }
  // One string per token, each token decoded alone, as TransformerLens's to_str_tokens shows them.
  return { text, ids, tokens: ids.map(id => decode([id])) };
});

const about = 'GPT-2 token ids from the npm package gpt-3-encoder ' + version
  + ', with <|endoftext|> split out as the single token 50256; written by lib/src/test/tokenize-reference/gpt2_reference.js';
// One case a line, so a change to the reference reads as a small diff.
// Invisible characters are written as \u escapes, so the file reads as it is.
const visible = json => json.replace(/[\u007f-\u00a0\u00ad\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]/g,
  c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
const line = c => '  ' + visible(JSON.stringify(c));
fs.writeFileSync(out, '{"about": ' + JSON.stringify(about) + ',\n "cases": [\n'
  + cases.map(line).join(',\n') + '\n ],\n "js_differs_from_hf": [\n'
  + jsDiffers.map(text => line({ text, ids: encode(text) })).join(',\n') + '\n]}\n');
console.log('wrote ' + cases.length + ' cases to ' + out);
