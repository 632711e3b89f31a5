package dev.loupe.plot;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;

import de.erichseifert.vectorgraphics2d.VectorGraphics2D;
import de.erichseifert.vectorgraphics2d.svg.SVGProcessor;
import de.erichseifert.vectorgraphics2d.util.PageSize;

import dev.loupe.display.Html;
import dev.loupe.display.MimeBundle;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

import tech.tablesaw.plotly.components.Config;
import tech.tablesaw.plotly.components.Layout;
import tech.tablesaw.plotly.traces.Trace;

/**
 * A figure drawn twice from the same data: interactively by plotly.js from tablesaw-jsplot's figure model (zoom, pan,
 * hover), and statically by XChart for the PNG and SVG. The HTML starts as the PNG; its script swaps in the plotly
 * view once {@code window.Plotly} exists (see {@link PlotlyJs}), so viewers without JavaScript show the PNG.
 */
abstract class Plotted extends Figure {

    /** NaN stays NaN (plotly leaves a gap) rather than Gson's refusal; labels' {@code <} travels as \u003c. */
    static final Gson GSON = new GsonBuilder().serializeSpecialFloatingPointValues().create();

    /**
     * One plotly figure in tablesaw-jsplot's model. Its templates cannot say some things (colour scales, zmin/zmax,
     * tick angles, hover templates, titles with quotes): {@code extra} carries them, merged into the traces and layout
     * just before plotting, as {@code {"traces": [{...}, ...], "layout": {...}, "rows": [...], "cols": [...]}}
     * ({@code rows} and {@code cols}, when present, label a heatmap's cells on hover).
     */
    static final class Panel extends tech.tablesaw.plotly.components.Figure {
        private final JsonObject extra;

        /** {@code width}: panels under 360 pixels get no mode bar, which would cover their title (drag still zooms). */
        Panel(Layout layout, int width, JsonObject extra, Trace... traces) {
            super(layout, Config.builder().displayLogo(false).displayModeBar(width >= 360).build(), traces);
            this.extra = extra;
        }

        /** Plots through the page script's {@code draw}, which merges {@code extra} first (the template HTML-escapes this). */
        @Override
        protected String plotFunction(String target) {
            StringBuilder data = new StringBuilder("[");
            for (int i = 0; i < getTraces().length; i++) {
                data.append(i == 0 ? "trace" : ",trace").append(i);
            }
            return "draw(" + target + "," + data + "],layout,config,extra);";
        }

        /**
         * A call of the generated script's body, as a function so its top-level {@code var}s stay local, with
         * {@code extra} as its argument.
         */
        String call(String divName) {
            String js = asJavascript(divName).strip();
            js = js.substring("<script>".length(), js.length() - "</script>".length());
            // Only string literals hold '<' here (labels and titles), so escaping every one keeps "</script>" out.
            return "(function(extra){" + js.replace("<", "\\u003c") + "})(" + GSON.toJson(extra) + ");\n";
        }
    }

    /** The plotly figures, side by side (facets have several). */
    abstract List<Panel> views();

    /** How many of {@link #views()} share a row before the next row starts, as the static rendering lays them out. */
    int panelsPerRow() {
        return Integer.MAX_VALUE;
    }

    /** Size of the static rendering, in pixels. */
    abstract int width();

    abstract int height();

    /** Draws the static rendering (XChart) into {@code g}, {@link #width()} by {@link #height()}. */
    abstract void paint(Graphics2D g);

    @Override
    public BufferedImage image() {
        BufferedImage img = new BufferedImage(width(), height(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width(), height());
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        paint(g);
        g.dispose();
        return img;
    }

    @Override
    public String svg() {
        VectorGraphics2D g = new VectorGraphics2D();
        paint(g);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            new SVGProcessor().getDocument(g.getCommands(), new PageSize(0, 0, width(), height())).writeTo(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String svg = out.toString(StandardCharsets.UTF_8);
        return svg.substring(svg.indexOf("<svg")).strip();
    }

    @Override
    public String html() {
        return html(png(), PlotlyJs.source(), true);
    }

    @Override
    String page() {
        return html(png(), PlotlyJs.source(), false);
    }

    /**
     * The PNG once, as the bundle's image/png (what GitHub and other static viewers show); the HTML carries the plotly
     * view only, not the PNG again. A build without plotly.js has no interactive view: its HTML is the PNG.
     */
    @Override
    public MimeBundle mimeBundle() {
        byte[] png = png();
        return MimeBundle.text(text()).withHtml(notebookHtml(png)).withPng(png);
    }

    @Override
    String notebookHtml() {
        return notebookHtml(null);
    }

    /** {@code png}: the PNG if already drawn; null draws it only where the HTML needs it. */
    private String notebookHtml(byte[] png) {
        String library = PlotlyJs.source();
        return library == null ? html(png == null ? png() : png, null, true) : html(null, library, true);
    }

    /**
     * The PNG (unless {@code png} is null: a notebook output has it as its image/png), and (when {@code library} is not
     * null) the plotly view that replaces it: in a notebook the library comes once per session, on a saved page always.
     */
    String html(byte[] png, String library, boolean notebook) {
        String id = newId("plotly").replace('-', '_'); // tablesaw-jsplot makes a JS variable of the div's name
        StringBuilder b = new StringBuilder();
        if (library != null) {
            b.append(notebook ? PlotlyJs.sessionLoader(library) : PlotlyJs.loader(library));
        }
        b.append("<div id=\"").append(id).append("\" class=\"loupe-plotly\" style=\"font-family:sans-serif;font-size:11px;color:#777\">");
        if (png != null) {
            b.append("<img class=\"loupe-plotly-static\" alt=\"").append(Html.escape(text())).append("\" src=\"")
                    .append(dataUri(png)).append("\">");
        }
        if (library == null) {
            return b.append("<div>static image: this build has no plotly.js (./loupe fetches it with npm)</div></div>")
                    .toString();
        }
        b.append("<div class=\"loupe-plotly-live\" style=\"display:none;white-space:nowrap\">");
        StringBuilder draws = new StringBuilder();
        List<Panel> panels = views();
        for (int i = 0; i < panels.size(); i++) {
            String div = id + "_" + i;
            if (i > 0 && i % panelsPerRow() == 0) {
                b.append("<br>");
            }
            b.append("<div id=\"").append(div).append("\" style=\"display:inline-block;vertical-align:top\"></div>");
            draws.append(panels.get(i).call(div));
        }
        b.append("</div><div class=\"loupe-plotly-note\"></div>");
        return b.append(script(id, SCRIPT.replace("__PANELS__", draws))).append("</div>").toString();
    }

    /**
     * Waits up to 10 s for {@code window.Plotly} (an earlier output may still be loading it), then shows the live view
     * and draws each panel; failing that the PNG stays, with a note.
     */
    private static final String SCRIPT = """
root.setAttribute("data-ready","1");
function merge(a,b){for(var k in b){var v=b[k];
if(v&&typeof v==="object"&&!Array.isArray(v)&&a[k]&&typeof a[k]==="object")merge(a[k],v);else a[k]=v;}return a;}
function draw(target,data,layout,config,extra){(extra.traces||[]).forEach(function(t,i){merge(data[i],t);});
merge(layout,extra.layout||{});
if(extra.rows){data[0].text=data[0].z.map(function(row,r){return row.map(function(v,c){return extra.rows[r]+", "+extra.cols[c];});});}
Plotly.newPlot(target,data,layout,config);}
(function wait(tries){
if(!window.Plotly){if(tries<100){setTimeout(function(){wait(tries+1);},100);}
else{root.querySelector(".loupe-plotly-note").textContent=(root.querySelector(".loupe-plotly-static")?"static image: ":"")+"plotly.js is not in this page (the first plot of a kernel session carries it); run the cell again for the interactive view";}
return;}
var still=root.querySelector(".loupe-plotly-static");if(still)still.style.display="none";root.querySelector(".loupe-plotly-live").style.display="block";
__PANELS__})(0);
""";

    /** Text for plotly, which reads labels as HTML-like markup: entities keep {@code <b>} or {@code &amp;} literal. */
    static String plotlyText(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "\\n");
    }
}
