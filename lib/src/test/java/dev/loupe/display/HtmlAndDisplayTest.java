package dev.loupe.display;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

class HtmlAndDisplayTest {

    @Test
    void escapingMakesTokensShowAsThemselves() {
        assertEquals("&lt;|endoftext|&gt;", Html.escape("<|endoftext|>"));
        assertEquals("a &amp; b &quot;c&quot; &#39;d&#39;", Html.escape("a & b \"c\" 'd'"));
        String plain = " When John";
        assertSame(plain, Html.escape(plain));
        assertEquals("null", Html.escape(null));
    }

    @Test
    void sizesAndCounts() {
        assertEquals("999 B", Html.bytes(999));
        assertEquals("548.1 MB", Html.bytes(548_105_171));
        assertEquals("85,120", Html.count(85_120));
        assertEquals("124,439,808 (124.4M)", Html.count(124_439_808));
        assertEquals("1,557,611,200 (1.6B)", Html.count(1_557_611_200L));
    }

    static class Base {}

    static class Derived extends Base {}

    @Test
    void theMostSpecificRendererWins() {
        Display.register(Base.class, b -> MimeBundle.text("base"));
        Display.register(Derived.class, d -> MimeBundle.text("derived"));
        assertEquals("derived", Display.bundleOf(new Derived() {}).text());
        assertEquals("base", Display.bundleOf(new Base()).text());
        assertEquals("null", Display.bundleOf(null).text());
        assertEquals("[1, 2]", Display.bundleOf(new ArrayList<>(List.of(1, 2))).text());
    }

    @org.junit.jupiter.api.Test
    void imagesRenderAsPngs() throws java.io.IOException {
        java.awt.image.BufferedImage image = new java.awt.image.BufferedImage(7, 5, java.awt.image.BufferedImage.TYPE_INT_RGB);
        image.setRGB(3, 2, 0xff0000);
        MimeBundle bundle = Display.bundleOf(image);
        org.junit.jupiter.api.Assertions.assertEquals("image 7×5", bundle.text());
        java.awt.image.BufferedImage back = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(
                java.util.Base64.getDecoder().decode(bundle.data().get(MimeBundle.PNG))));
        org.junit.jupiter.api.Assertions.assertEquals(0xff0000, back.getRGB(3, 2) & 0xffffff);
    }
}
