package dev.loupe.kernel;

import com.google.gson.JsonObject;

import dev.loupe.display.MimeBundle;

import io.github.spencerpark.jupyter.kernel.display.DisplayData;
import io.github.spencerpark.jupyter.kernel.display.mime.MIMEType;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CellOutputTest {

    @Test
    void textIsCutOnlyBetweenCharacters() {
        byte[] euro = "a€".getBytes(StandardCharsets.UTF_8);  // 'a' then three bytes
        assertEquals(4, CellOutput.completeUtf8Length(euro));
        assertEquals(1, CellOutput.completeUtf8Length(java.util.Arrays.copyOf(euro, 2)));
        assertEquals(1, CellOutput.completeUtf8Length(java.util.Arrays.copyOf(euro, 3)));
        byte[] emoji = "😀".getBytes(StandardCharsets.UTF_8);
        assertEquals(0, CellOutput.completeUtf8Length(java.util.Arrays.copyOf(emoji, 3)));
        assertEquals(4, CellOutput.completeUtf8Length(emoji));
        assertEquals(0, CellOutput.completeUtf8Length(new byte[0]));
    }

    @Test
    void everyRepresentationGoesOutAndJsonTypesAsJson() {
        DisplayData data = CellOutput.toDisplayData(MimeBundle.text("t").withHtml("<b>h</b>")
                .with("application/vnd.loupe+json", "{\"a\": 1}"));
        assertEquals("t", data.getData(MIMEType.parse("text/plain")));
        assertEquals("<b>h</b>", data.getData(MIMEType.parse("text/html")));
        Object json = data.getData(MIMEType.parse("application/vnd.loupe+json"));
        assertTrue(json instanceof JsonObject, String.valueOf(json));
        assertEquals(1, ((JsonObject) json).get("a").getAsInt());
    }
}
