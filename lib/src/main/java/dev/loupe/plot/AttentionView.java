package dev.loupe.plot;

import dev.loupe.display.Html;

import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.Base64;
import java.util.List;

/**
 * Attention patterns of one or more layers' heads, drawn as a grid of small per-head patterns. In a notebook with
 * JavaScript, hovering or clicking a head enlarges it with token labels on both axes, and hovering a token there
 * highlights its row (where it attends to) and its column (where it is attended from). Without JavaScript the
 * same grid shows as a PNG.
 *
 * <p>Patterns travel in the HTML as 8-bit values (probability × 255, rounded), base64-encoded in a data attribute;
 * when every entry above the diagonal is 0 (causal attention) only the lower triangle is sent.
 */
public final class AttentionView extends Figure {

    /** White for 0 to dark blue for 1. */
    static int rgb(double p) {
        double t = Math.max(0, Math.min(1, Double.isNaN(p) ? 0 : p));
        int r = (int) Math.round(255 - t * 247);
        int g = (int) Math.round(255 - t * 207);
        int b = (int) Math.round(255 - t * 148);
        return (r << 16) | (g << 8) | b;
    }

    private final float[] values; // [layer, head, q, k]
    private final int[] layers; // layer numbers shown
    private final int nHeads;
    private final int nq;
    private final int nk;
    private final List<String> tokens;
    private final int onlyHead; // -1: all heads
    private final boolean causal;

    AttentionView(float[] values, int[] layers, int nHeads, int nq, int nk, List<String> tokens, int onlyHead) {
        if ((long) layers.length * nHeads * nq * nk != values.length) {
            throw new IllegalArgumentException("pattern of " + values.length + " values is not " + layers.length
                    + " layers x " + nHeads + " heads x " + nq + " x " + nk);
        }
        if (tokens.size() != nk || nq > nk) {
            throw new IllegalArgumentException("attention over " + nk + " keys (" + nq + " queries) needs " + nk
                    + " tokens; got " + tokens.size());
        }
        this.values = values;
        this.layers = layers;
        this.nHeads = nHeads;
        this.nq = nq;
        this.nk = nk;
        this.tokens = List.copyOf(tokens);
        this.onlyHead = onlyHead;
        boolean c = nq == nk;
        for (int m = 0; c && m < layers.length * nHeads; m++) {
            int base = m * nq * nk;
            for (int q = 0; c && q < nq; q++) {
                for (int k = q + 1; k < nk; k++) {
                    if (values[base + q * nk + k] != 0) {
                        c = false;
                        break;
                    }
                }
            }
        }
        this.causal = c;
    }

    private int shownHeads() {
        return onlyHead >= 0 ? 1 : nHeads;
    }

    private int headIndex(int h) {
        return onlyHead >= 0 ? onlyHead : h;
    }

    /** The attention from query q to key k of the given shown layer (index into the layers shown) and head. */
    public double get(int layerIndex, int head, int q, int k) {
        return values[((layerIndex * nHeads + head) * nq + q) * nk + k];
    }

    public boolean causal() {
        return causal;
    }

    static byte quantise(float v) {
        double t = Float.isNaN(v) ? 0 : Math.max(0, Math.min(1, v));
        return (byte) Math.round(t * 255);
    }

    /** The 8-bit encoding of the shown heads: per shown layer and head, q rows of k (or q + 1 when causal). */
    byte[] encoded() {
        int per = causal ? nq * (nq + 1) / 2 : nq * nk;
        byte[] out = new byte[layers.length * shownHeads() * per];
        int i = 0;
        for (int l = 0; l < layers.length; l++) {
            for (int h = 0; h < shownHeads(); h++) {
                int base = (l * nHeads + headIndex(h)) * nq * nk;
                for (int q = 0; q < nq; q++) {
                    int kEnd = causal ? q + 1 : nk;
                    for (int k = 0; k < kEnd; k++) {
                        out[i++] = quantise(values[base + q * nk + k]);
                    }
                }
            }
        }
        return out;
    }

    private String headName(int l, int h) {
        return "L" + layers[l] + "H" + headIndex(h);
    }

    @Override
    public String text() {
        String which = onlyHead >= 0 ? "head L" + layers[0] + "H" + onlyHead
                : layers.length == 1 ? "layer " + layers[0] + ", " + nHeads + " heads"
                : layers.length + " layers x " + nHeads + " heads";
        return "Attention " + which + " over " + nk + " tokens";
    }

    // ---- PNG ----

    private int thumb() {
        if (onlyHead >= 0) {
            return 0;
        }
        return layers.length > 1 ? Math.max(32, Math.min(64, nk)) : Math.max(48, Math.min(240, nk * 2));
    }

    @Override
    public BufferedImage image() {
        return onlyHead >= 0 ? bigImage(0, 0) : gridImage();
    }

    private BufferedImage gridImage() {
        int t = thumb();
        int gap = 6;
        int labelH = 14;
        int left = layers.length > 1 ? 34 : 0;
        int cols = shownHeads();
        int w = left + cols * (t + gap) + gap;
        int h = layers.length * (t + gap + labelH) + gap;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setFont(Drawing.FONT.deriveFont(10f));
        for (int l = 0; l < layers.length; l++) {
            int y0 = gap + l * (t + gap + labelH);
            g.setColor(new Color(0x333333));
            if (left > 0) {
                g.drawString("L" + layers[l], 4, y0 + labelH + t / 2 + 4);
            }
            for (int hh = 0; hh < cols; hh++) {
                int x0 = left + gap + hh * (t + gap);
                g.setColor(new Color(0x333333));
                g.drawString(layers.length > 1 ? "H" + headIndex(hh) : headName(l, hh), x0, y0 + 10);
                int base = (l * nHeads + headIndex(hh)) * nq * nk;
                for (int py = 0; py < t; py++) {
                    int q = py * nq / t;
                    for (int px = 0; px < t; px++) {
                        int k = px * nk / t;
                        img.setRGB(x0 + px, y0 + labelH + py, rgb(values[base + q * nk + k]));
                    }
                }
                g.setColor(new Color(0xcccccc));
                g.drawRect(x0 - 1, y0 + labelH - 1, t + 1, t + 1);
            }
        }
        g.dispose();
        return img;
    }

    private BufferedImage bigImage(int l, int hh) {
        int cell = Math.max(4, Math.min(16, 480 / Math.max(nq, nk)));
        BufferedImage probe = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        Graphics2D pg = probe.createGraphics();
        Font font = Drawing.FONT.deriveFont((float) Math.min(11, Math.max(7, cell)));
        FontMetrics fm = pg.getFontMetrics(font);
        int lw = 0;
        for (String s : tokens) {
            lw = Math.max(lw, fm.stringWidth(Heatmap.clip(s)));
        }
        pg.dispose();
        lw = Math.min(lw, 140) + 6;
        int top = lw + 18;
        int w = lw + nk * cell + 10;
        int h = top + nq * cell + 10;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(new Color(0x111111));
        g.setFont(Drawing.FONT.deriveFont(Font.BOLD));
        g.drawString(headName(l, hh), 2, 13);
        g.setFont(font);
        int base = (l * nHeads + headIndex(hh)) * nq * nk;
        for (int q = 0; q < nq; q++) {
            for (int k = 0; k < nk; k++) {
                g.setColor(new Color(rgb(values[base + q * nk + k])));
                g.fillRect(lw + k * cell, top + q * cell, cell, cell);
            }
        }
        boolean labels = cell >= 7;
        g.setColor(new Color(0x333333));
        for (int q = 0; labels && q < nq; q++) {
            String s = Heatmap.clip(tokens.get(nk - nq + q));
            g.drawString(s, lw - 4 - g.getFontMetrics().stringWidth(s), top + q * cell + cell - 2);
        }
        for (int k = 0; labels && k < nk; k++) {
            String s = Heatmap.clip(tokens.get(k));
            java.awt.geom.AffineTransform saved = g.getTransform();
            g.rotate(-Math.PI / 2, lw + k * cell + cell - 2, top - 4);
            g.drawString(s, lw + k * cell + cell - 2, top - 4);
            g.setTransform(saved);
        }
        g.dispose();
        return img;
    }

    @Override
    public String svg() {
        BufferedImage img = image();
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\""
                + img.getWidth() + "\" height=\"" + img.getHeight() + "\"><title>" + Html.escape(text())
                + "</title><image width=\"" + img.getWidth() + "\" height=\"" + img.getHeight() + "\" xlink:href=\""
                + dataUri(encodePng(img)) + "\"/></svg>";
    }

    // ---- HTML ----

    @Override
    public String html() {
        return html(png());
    }

    @Override
    public dev.loupe.display.MimeBundle mimeBundle() {
        byte[] png = png();
        // The PNG once, as image/png: the HTML draws the view from the pattern and does not carry the PNG again.
        return dev.loupe.display.MimeBundle.text(text()).withHtml(html(null)).withPng(png);
    }

    private String html(byte[] png) {
        String id = newId("attn");
        StringBuilder tokensJson = new StringBuilder("[");
        for (int i = 0; i < tokens.size(); i++) {
            tokensJson.append(i == 0 ? "" : ",").append(json(tokens.get(i)));
        }
        tokensJson.append(']');
        StringBuilder names = new StringBuilder("[");
        for (int l = 0; l < layers.length; l++) {
            names.append(l == 0 ? "" : ",").append(layers[l]);
        }
        names.append(']');
        StringBuilder heads = new StringBuilder("[");
        for (int h = 0; h < shownHeads(); h++) {
            heads.append(h == 0 ? "" : ",").append(headIndex(h));
        }
        heads.append(']');
        return "<div id=\"" + id + "\" class=\"loupe-attn\" style=\"font-family:sans-serif;font-size:11px;color:#333\""
                + " data-layers=\"" + names + "\" data-heads=\"" + heads + "\" data-nq=\"" + nq + "\" data-nk=\"" + nk
                + "\" data-causal=\"" + (causal ? 1 : 0) + "\" data-thumb=\"" + Math.max(thumb(), 40)
                + "\" data-tokens=\"" + Html.escape(tokensJson.toString()) + "\" data-pattern=\""
                + Base64.getEncoder().encodeToString(encoded()) + "\">"
                + (png == null ? "" : "<img class=\"loupe-attn-static\" alt=\"" + Html.escape(text()) + "\" src=\"" + dataUri(png) + "\">")
                + "<div class=\"loupe-attn-live\" style=\"display:none\"></div>"
                + script(id, SCRIPT) + "</div>";
    }

    static String json(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == '\u2028' || c == '\u2029') {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    /**
     * Vanilla JS, run by {@link Figure#script} with the output's element as {@code root}; no define/require, no
     * libraries. If the output never shows up the PNG stays.
     */
    private static final String SCRIPT = """
root.setAttribute("data-ready","1");
var T=JSON.parse(root.getAttribute("data-tokens")),LY=JSON.parse(root.getAttribute("data-layers")),
HD=JSON.parse(root.getAttribute("data-heads")),NQ=+root.getAttribute("data-nq"),NK=+root.getAttribute("data-nk"),
CAUSAL=root.getAttribute("data-causal")==="1",TH=+root.getAttribute("data-thumb");
var raw=atob(root.getAttribute("data-pattern")),A=new Uint8Array(raw.length);
for(var i=0;i<raw.length;i++)A[i]=raw.charCodeAt(i);
var PER=CAUSAL?NQ*(NQ+1)/2:NQ*NK,OFF=NK-NQ;
function val(m,q,k){if(CAUSAL){return k>q?0:A[m*PER+q*(q+1)/2+k];}return A[m*PER+q*NK+k];}
function esc(s){return String(s).replace(/[&<>"']/g,function(c){return "&#"+c.charCodeAt(0)+";";});}
function show(s){return s.replace(/\\n/g,"\\\\n");}
function small(m){var c=document.createElement("canvas");c.width=NK;c.height=NQ;var x=c.getContext("2d"),
img=x.createImageData(NK,NQ),d=img.data;for(var q=0;q<NQ;q++)for(var k=0;k<NK;k++){var t=val(m,q,k)/255,p=4*(q*NK+k);
d[p]=Math.round(255-t*247);d[p+1]=Math.round(255-t*207);d[p+2]=Math.round(255-t*148);d[p+3]=255;}
x.putImageData(img,0,0);return c;}
var live=root.querySelector(".loupe-attn-live"),st=root.querySelector(".loupe-attn-static");
var grid=document.createElement("div"),big=document.createElement("div"),info=document.createElement("div");
grid.style.cssText="display:inline-block;vertical-align:top;margin-right:12px;max-height:620px;overflow:auto";
big.style.cssText="display:inline-block;vertical-align:top";info.style.cssText="min-height:16px;margin:2px 0 4px 0;font-family:monospace";
var M=LY.length*HD.length,smalls=new Array(M),cur=-1,thumbs=[];
var tbl=document.createElement("table");tbl.style.borderCollapse="collapse";
for(var l=0;l<LY.length;l++){var tr=document.createElement("tr");
if(LY.length>1){var th=document.createElement("td");th.textContent="L"+LY[l];th.style.paddingRight="4px";tr.appendChild(th);}
for(var h=0;h<HD.length;h++){(function(m,name){var td=document.createElement("td");td.style.padding="2px";td.style.textAlign="center";
var c=smalls[m]=small(m);c.style.width=TH+"px";c.style.height=Math.round(TH*NQ/NK)+"px";c.style.imageRendering="pixelated";
c.style.cursor="pointer";c.style.border="2px solid #ddd";c.title=name;
c.addEventListener("mouseenter",function(){select(m);});c.addEventListener("click",function(){select(m);});
var lab=document.createElement("div");lab.textContent=name;td.appendChild(lab);td.appendChild(c);tr.appendChild(td);thumbs[m]=c;
})(l*HD.length+h,(LY.length>1?"":"L"+LY[l])+"H"+HD[h]);}
tbl.appendChild(tr);}
grid.appendChild(tbl);
var cv=document.createElement("canvas"),CELL=Math.max(4,Math.min(16,Math.floor(480/Math.max(NQ,NK)))),
FS=Math.min(11,Math.max(7,CELL)),ctx=cv.getContext("2d"),LW=0;
ctx.font=FS+"px sans-serif";for(var i=0;i<NK;i++)LW=Math.max(LW,ctx.measureText(show(T[i])).width);
LW=Math.min(LW,140)+8;var TOP=LW;cv.width=LW+NK*CELL+4;cv.height=TOP+NQ*CELL+4;
var title=document.createElement("div");title.style.fontWeight="bold";
big.appendChild(title);big.appendChild(info);big.appendChild(cv);
function draw(hq,hk){ctx.setTransform(1,0,0,1,0,0);ctx.fillStyle="#fff";ctx.fillRect(0,0,cv.width,cv.height);
ctx.imageSmoothingEnabled=false;ctx.drawImage(smalls[cur],LW,TOP,NK*CELL,NQ*CELL);
ctx.font=FS+"px sans-serif";
if(CELL>=7){for(var q=0;q<NQ;q++){ctx.fillStyle=(hq===q)?"#d62728":(hk===q+OFF)?"#2ca02c":"#333";ctx.textAlign="right";
ctx.fillText(show(T[q+OFF]),LW-4,TOP+q*CELL+CELL-2);}
for(var k=0;k<NK;k++){ctx.save();ctx.translate(LW+k*CELL+CELL-2,TOP-4);ctx.rotate(-Math.PI/2);ctx.textAlign="left";
ctx.fillStyle=(hk===k)?"#2ca02c":(hq===k-OFF)?"#d62728":"#333";ctx.fillText(show(T[k]),0,0);ctx.restore();}}
ctx.lineWidth=2;if(hq!=null&&hq>=0&&hq<NQ){ctx.strokeStyle="#d62728";ctx.strokeRect(LW,TOP+hq*CELL,NK*CELL,CELL);}
if(hk!=null&&hk>=0&&hk<NK){ctx.strokeStyle="#2ca02c";ctx.strokeRect(LW+hk*CELL,TOP,CELL,NQ*CELL);}}
function select(m){if(cur>=0)thumbs[cur].style.borderColor="#ddd";cur=m;thumbs[m].style.borderColor="#d62728";
var l=Math.floor(m/HD.length),h=m%HD.length;title.textContent="Layer "+LY[l]+", head "+HD[h]+" (rows: query token, columns: key token)";
info.innerHTML="&nbsp;";draw(null,null);}
function pct(v){return (v/255).toFixed(3);}
cv.addEventListener("mousemove",function(e){var r=cv.getBoundingClientRect(),x=(e.clientX-r.left)*cv.width/r.width,
y=(e.clientY-r.top)*cv.height/r.height,k=Math.floor((x-LW)/CELL),q=Math.floor((y-TOP)/CELL),m=cur;
if(x<LW&&q>=0&&q<NQ){var t=q+OFF;draw(q,t);info.innerHTML="token "+t+" <b>"+esc(show(T[t]))+"</b>: its row (red) is where it attends to, its column (green) where it is attended from";return;}
if(y<TOP&&k>=0&&k<NK){draw(k-OFF,k);info.innerHTML="token "+k+" <b>"+esc(show(T[k]))+"</b>: its row (red) is where it attends to, its column (green) where it is attended from";return;}
if(q>=0&&q<NQ&&k>=0&&k<NK){draw(q,k);info.innerHTML=esc(show(T[q+OFF]))+" ("+(q+OFF)+") &rarr; "+esc(show(T[k]))+" ("+k+"): "+pct(val(m,q,k));return;}
draw(null,null);});
cv.addEventListener("mouseleave",function(){draw(null,null);info.innerHTML="&nbsp;";});
if(M>1)live.appendChild(grid);live.appendChild(big);select(0);
if(st)st.style.display="none";live.style.display="block";
""";
}
