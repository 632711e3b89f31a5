package dev.loupe.plot;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every kind of plot loaded in headless Chromium with no network: the page's script must have drawn (plotly's SVG,
 * or non-blank attention canvases, or the token spans and table rows), with no script error, and plotly must hold the
 * data the figure was made from. {@code ./loupe test} installs Chromium and names it with {@code -Dloupe.chromium};
 * then this test must run. A plain {@code mvn test} uses a Chromium on the PATH if there is one, else skips.
 */
class PlotBrowserTest {

    private static String chromium;

    @BeforeAll
    static void findChromium() {
        String named = System.getProperty("loupe.chromium");
        if (named != null && !named.isEmpty()) {
            chromium = named;
            assertNotNull(PlotlyJs.source(), "the library jar has no plotly.js: ./loupe fetches it with npm before building");
            return;
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            for (String name : List.of("chromium", "chromium-browser", "google-chrome")) {
                if (chromium == null && Files.isExecutable(Path.of(dir, name))) {
                    chromium = Path.of(dir, name).toString();
                }
            }
        }
        assumeTrue(chromium != null && PlotlyJs.source() != null, "no Chromium on the PATH, or no plotly.js in this build");
    }

    /** Collects script errors from the start: uncaught ones and console.error. */
    private static final String ERRORS = """
<script>window.__errors=[];window.addEventListener("error",function(e){window.__errors.push(String(e.message));});
var __ce=console.error;console.error=function(){window.__errors.push([].join.call(arguments," "));__ce.apply(console,arguments);};</script>
""";

    /** After the figures' scripts had 12 s (of virtual time), writes what the page shows as JSON into #loupe-check. */
    private static final String CHECK = """
<script>setTimeout(function(){
function all(root,sel){return [].slice.call(root.querySelectorAll(sel));}
function shown(el){return !!el&&getComputedStyle(el).display!=="none";}
function blank(c){var d=c.getContext("2d").getImageData(0,0,c.width,c.height).data;
for(var i=0;i<d.length;i+=4)if(d[i]<250||d[i+1]<250||d[i+2]<250)return false;return true;}
var out={errors:window.__errors,define:{type:typeof window.define,calls:window.__defineCalls},plotly:[],attention:[],
tokens:all(document,".loupe-tokens span[title]").length,tableRows:all(document,"table tbody tr").map(function(r){
return all(r,"td").map(function(td){return td.textContent;});})};
all(document,".loupe-plotly").forEach(function(r){out.plotly.push({png:shown(r.querySelector(".loupe-plotly-static")),
note:(r.querySelector(".loupe-plotly-note")||{}).textContent||"",plots:all(r,".js-plotly-plot").map(function(gd){return {
svg:all(gd,".main-svg").length,heatmaps:all(gd,".hm image").length,lines:all(gd,".scatterlayer .js-line").length,
points:all(gd,".scatterlayer .point").length,bars:all(gd,".barlayer .point").length,
xticks:all(gd,".xtick text").map(function(t){return t.textContent;}),xtype:gd._fullLayout.xaxis.type,
ytype:gd._fullLayout.yaxis.type,data:gd._fullData.map(function(t){return {type:t.type,zmin:t.zmin,zmax:t.zmax,
z:t.z,x:t.x,y:t.y};})};})});});
all(document,".loupe-attn").forEach(function(r){out.attention.push({ready:r.getAttribute("data-ready"),
png:shown(r.querySelector(".loupe-attn-static")),canvases:all(r,"canvas").length,
drawn:all(r,"canvas").filter(function(c){return !blank(c);}).length});});
var pre=document.createElement("pre");pre.id="loupe-check";pre.textContent=JSON.stringify(out);document.body.appendChild(pre);
},12000);</script>
""";

    /** A page with the error collector first, {@code head} (e.g. a require.js stand-in), the body, then the check. */
    private static JsonObject load(Path dir, String name, String head, String body) throws Exception {
        Path page = dir.resolve(name + ".html");
        Files.writeString(page, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">" + ERRORS + head + "</head><body>\n"
                + body + "\n" + CHECK + "</body></html>\n", StandardCharsets.UTF_8);
        Path profile = Files.createTempDirectory(dir, "profile");
        Process p = new ProcessBuilder(chromium, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--user-data-dir=" + profile, "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                "--virtual-time-budget=15000", "--dump-dom", page.toUri().toString())
                .redirectError(dir.resolve(name + ".log").toFile()).start();
        String dom = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "Chromium finished " + name);
        Matcher m = Pattern.compile("<pre id=\"loupe-check\">(.*?)</pre>", Pattern.DOTALL).matcher(dom);
        assertTrue(m.find(), name + ": the check ran (Chromium exit " + p.exitValue() + ", log " + log(dir, name) + ")");
        JsonObject result = JsonParser.parseString(m.group(1).replace("&lt;", "<").replace("&gt;", ">")
                .replace("&nbsp;", "\u00a0").replace("&amp;", "&")).getAsJsonObject();
        assertEquals(0, result.getAsJsonArray("errors").size(), name + ": script errors " + result.get("errors"));
        return result;
    }

    private static String log(Path dir, String name) throws IOException {
        Path log = dir.resolve(name + ".log");
        return Files.exists(log) ? Files.readString(log).lines().filter(l -> !l.contains("dbus")).limit(5).toList().toString() : "";
    }

    private static String pageHtml(Displayable d) {
        return d instanceof Figure f ? f.page() : d.mimeBundle().data().get(MimeBundle.HTML);
    }

    private static JsonObject onlyPlot(JsonObject r, String name) {
        JsonArray roots = r.getAsJsonArray("plotly");
        assertEquals(1, roots.size(), name);
        JsonObject root = roots.get(0).getAsJsonObject();
        assertTrue(!root.get("png").getAsBoolean(), name + ": the live view replaced the PNG");
        JsonObject plot = root.getAsJsonArray("plots").get(0).getAsJsonObject();
        assertTrue(plot.get("svg").getAsInt() > 0, name + ": plotly drew its SVG");
        return plot;
    }

    private static List<Double> numbers(JsonElement a) {
        List<Double> out = new ArrayList<>();
        a.getAsJsonArray().forEach(e -> out.add(e.isJsonNull() ? Double.NaN : e.getAsDouble()));
        return out;
    }

    @Test
    void everyKindOfPlotDrawsWithoutNetworkOrErrors(@TempDir Path dir) throws Exception {
        Map<String, Displayable> figures = PlotScreenshotPages.figures();
        List<String> words = PlotScreenshotPages.WORDS;
        for (String name : List.of("plot-attention", "plot-attention-head", "plot-attention-all")) {
            JsonObject r = load(dir, name, "", pageHtml(figures.get(name)));
            JsonObject att = r.getAsJsonArray("attention").get(0).getAsJsonObject();
            assertEquals("1", att.get("ready").getAsString(), name);
            assertTrue(!att.get("png").getAsBoolean(), name + ": the live view replaced the PNG");
            assertTrue(att.get("drawn").getAsInt() > 0 && att.get("drawn").getAsInt() == att.get("canvases").getAsInt(),
                    name + ": every canvas has ink " + att);
        }

        Heatmap heatmap = (Heatmap) figures.get("plot-heatmap");
        JsonObject h = onlyPlot(load(dir, "plot-heatmap", "", pageHtml(heatmap)), "heatmap");
        assertEquals(1, h.get("heatmaps").getAsInt(), "the heatmap's image");
        JsonObject trace = h.getAsJsonArray("data").get(0).getAsJsonObject();
        double limit = 0;
        for (int row = 0; row < heatmap.grid.length; row++) {
            List<Double> z = numbers(trace.getAsJsonArray("z").get(row));
            for (int col = 0; col < z.size(); col++) {
                assertEquals(heatmap.grid[row][col], z.get(col), 0, "z[" + row + "][" + col + "] as plotly holds it");
                limit = Math.max(limit, Math.abs(heatmap.grid[row][col]));
            }
        }
        assertEquals(-limit, trace.get("zmin").getAsDouble(), "zero in the middle of the colour scale");
        assertEquals(limit, trace.get("zmax").getAsDouble());
        List<String> ticks = new ArrayList<>();
        h.getAsJsonArray("xticks").forEach(t -> ticks.add(t.getAsString().strip()));
        assertEquals(words.stream().map(w -> w.replace("\n", "\\n").strip()).toList(), ticks, "tokens as text, <b> and & too");

        JsonObject facets = load(dir, "plot-facets", "", pageHtml(figures.get("plot-facets")))
                .getAsJsonArray("plotly").get(0).getAsJsonObject();
        JsonArray panels = facets.getAsJsonArray("plots");
        assertEquals(2, panels.size());
        for (JsonElement p : panels) {
            JsonObject t = p.getAsJsonObject().getAsJsonArray("data").get(0).getAsJsonObject();
            assertEquals(-1.5, t.get("zmin").getAsDouble(), "one scale for both: the larger |value| is 1.5");
            assertEquals(1.5, t.get("zmax").getAsDouble());
        }

        JsonObject lines = onlyPlot(load(dir, "plot-lines", "", pageHtml(figures.get("plot-lines"))), "lines");
        assertEquals(2, lines.get("lines").getAsInt(), "two series");
        assertEquals("log", lines.get("xtype").getAsString());
        assertEquals("log", lines.get("ytype").getAsString());
        JsonObject scatter = onlyPlot(load(dir, "plot-scatter", "", pageHtml(figures.get("plot-scatter"))), "scatter");
        assertEquals(80, scatter.get("points").getAsInt());
        JsonObject bar = onlyPlot(load(dir, "plot-bar", "", pageHtml(figures.get("plot-bar"))), "bar");
        assertEquals(6, bar.get("bars").getAsInt());
        assertEquals(List.of(3.2, -1.1, 0.4, 0.2, -0.6, 1.3), numbers(bar.getAsJsonArray("data").get(0).getAsJsonObject().get("y")));

        assertEquals(words.size(), load(dir, "plot-tokens", "", pageHtml(figures.get("plot-tokens"))).get("tokens").getAsInt());
        JsonArray rows = load(dir, "plot-topk", "", pageHtml(figures.get("plot-topk"))).getAsJsonArray("tableRows");
        assertEquals(3, rows.size());
        assertTrue(rows.get(1).toString().contains("\" <b>park\""), "a token with markup shows as text: " + rows.get(1));
    }

    @Test
    void theFirstOutputOfASessionCarriesPlotlyPastRequireJsAndLaterOnesReuseIt(@TempDir Path dir) throws Exception {
        Heatmap heatmap = (Heatmap) PlotScreenshotPages.figures().get("plot-heatmap");
        Chart lines = (Chart) PlotScreenshotPages.figures().get("plot-lines");
        PlotlyJs.resetSession();
        String first = heatmap.mimeBundle().data().get(MimeBundle.HTML);
        String second = lines.mimeBundle().data().get(MimeBundle.HTML);
        assertTrue(first.length() > 1_000_000 && second.length() < 100_000, "the library travels once");
        // classic Notebook and nbconvert pages have require.js: an AMD define that would take plotly.js as a module.
        String requireJs = "<script>window.__defineCalls=0;window.define=function(){window.__defineCalls++;};"
                + "window.define.amd={};</script>";
        JsonObject r = load(dir, "notebook-requirejs", requireJs, first + "\n" + second);
        assertEquals(0, r.getAsJsonObject("define").get("calls").getAsInt(), "plotly.js did not register with define");
        assertEquals("function", r.getAsJsonObject("define").get("type").getAsString(), "define is back afterwards");
        JsonArray roots = r.getAsJsonArray("plotly");
        assertEquals(2, roots.size());
        for (JsonElement root : roots) {
            assertTrue(!root.getAsJsonObject().get("png").getAsBoolean(), "both outputs went live: " + root);
            assertTrue(root.getAsJsonObject().getAsJsonArray("plots").get(0).getAsJsonObject().get("svg").getAsInt() > 0);
        }
        // A later output alone (its notebook's first plot output was cleared): a note says why (the output's PNG is its
        // image/png, which the HTML does not repeat).
        JsonObject alone = load(dir, "notebook-without-library", "", second).getAsJsonArray("plotly").get(0).getAsJsonObject();
        assertTrue(!alone.get("png").getAsBoolean(), "no second copy of the PNG in the HTML");
        assertTrue(alone.get("note").getAsString().contains("plotly.js is not in this page"), alone.toString());
    }
}
