package dev.loupe.bench;

import dev.loupe.tokenize.Gpt2Tokenizer;
import dev.loupe.tokenize.HfTokenizer;
import dev.loupe.tokenize.Tokenizer;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/**
 * Encode speed of GPT-2's tokenizer in tokens per second, on about 8 KB of English-like text with code and
 * numbers: once with the word cache warm (text like what it has seen) and once with every word new (the BPE
 * merging itself). With a tokenizer.json as argument, Hugging Face's Rust tokenizer is timed the same way.
 * Run: {@code ./loupe bench tokenize [tokenizer.json]}.
 */
public final class TokenizerBench {

    private static final String[] WORDS = ("the of and to a in that is was he for it with as his on be at by I had"
            + " not are but from or have an they which one you were her all she there would their we him been has"
            + " when who will more no if out so said what up its about into than them can only other new some could"
            + " time these two may then do first any my now such like our over man me even most made after also did"
            + " many before must through back years where much your way well down should because each just those"
            + " people Mr how too little state good very make world still own see men work long get here between"
            + " both life being under never day same another know while last might us great old year off come since"
            + " against go came right used take three John Mary London 1984 2024 3.14 tokenizer interpretability").split(" ");
    private static final String CODE = "\n\ndef attention(q, k, v):\n    scores = q @ k.T / math.sqrt(d_head)\n"
            + "    return softmax(scores, dim=-1) @ v\n\n";

    public static void main(String[] args) throws Exception {
        long start = System.nanoTime();
        Gpt2Tokenizer gpt2 = Gpt2Tokenizer.bundled();
        System.out.printf("Gpt2Tokenizer.bundled() loaded in %.0f ms%n", (System.nanoTime() - start) / 1e6);
        String text = englishLike(new Random(1), 8_000);
        System.out.printf("text: %,d chars, %,d tokens%n", text.length(), gpt2.encode(text).length);
        report("Gpt2Tokenizer", gpt2, text);
        if (args.length > 0) {
            try (HfTokenizer hf = HfTokenizer.fromFile(Path.of(args[0]))) {
                report("HfTokenizer", hf, text);
            }
        }
    }

    private static void report(String name, Tokenizer tokenizer, String text) {
        double warm = tokensPerSecond(tokenizer, i -> text, 200);
        // Made-up words are new each run, so each goes through the merges.
        double fresh = tokensPerSecond(tokenizer, i -> madeUpWords(new Random(1000 + i), 8_000), 30);
        System.out.printf("%-14s %,12.0f tokens/s cached words %,12.0f tokens/s new words%n", name, warm, fresh);
    }

    private static double tokensPerSecond(Tokenizer tokenizer, java.util.function.IntFunction<String> texts, int runs) {
        for (int i = 0; i < 20; i++) {
            tokenizer.encode(texts.apply(-1 - i)); // warm-up for the JIT
        }
        double[] rates = new double[runs];
        for (int i = 0; i < runs; i++) {
            String t = texts.apply(i);
            long start = System.nanoTime();
            int n = tokenizer.encode(t).length;
            rates[i] = n / ((System.nanoTime() - start) / 1e9);
        }
        Arrays.sort(rates);
        return rates[runs / 2];
    }

    static String englishLike(Random random, int chars) {
        StringBuilder s = new StringBuilder();
        while (s.length() < chars) {
            int sentence = 5 + random.nextInt(15);
            for (int i = 0; i < sentence; i++) {
                String w = WORDS[random.nextInt(WORDS.length)];
                s.append(i == 0 ? Character.toUpperCase(w.charAt(0)) + w.substring(1) : w);
                s.append(i == sentence - 1 ? ". " : random.nextInt(8) == 0 ? ", " : " ");
            }
            if (random.nextInt(10) == 0) {
                s.append(CODE);
            }
        }
        return s.toString();
    }

    static String madeUpWords(Random random, int chars) {
        StringBuilder s = new StringBuilder();
        while (s.length() < chars) {
            for (int i = 3 + random.nextInt(8); i > 0; i--) {
                s.append((char) ('a' + random.nextInt(26)));
            }
            s.append(' ');
        }
        return s.toString();
    }
}
