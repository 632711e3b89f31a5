package dev.loupe.load;

import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;

import dev.loupe.FamilyCase;
import dev.loupe.model.HookedTransformer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.TreeMap;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A damaged or unsupported Hugging Face checkpoint fails naming the family, the file and the field or tensor. */
class FamilyErrorsTest {

    @TempDir
    Path dir;

    private Path copy(String name) throws IOException {
        try (Stream<Path> files = Files.list(FamilyCase.of(name).model())) {
            for (Path f : files.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        return dir;
    }

    private String refusal() {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> HookedTransformer.fromPretrained(dir.toString()));
        assertTrue(e.getCause() instanceof ModelFileException, "expected a ModelFileException, got " + e.getCause());
        return e.getMessage();
    }

    @Test
    void aTruncatedShardNamesTheFamilyTheFileAndTheTensor() throws IOException {
        copy("pythia");
        Path shard = dir.resolve("model-00002-of-00002.safetensors");
        byte[] bytes = Files.readAllBytes(shard);
        Files.write(shard, java.util.Arrays.copyOf(bytes, bytes.length - 100));
        String m = refusal();
        assertTrue(m.contains("GPT-NeoX") && m.contains("model-00002-of-00002.safetensors") && m.contains("gpt_neox."), m);
    }

    @Test
    void aConfigThatDisagreesWithTheWeightsNamesTheTensorAndItsFile() throws IOException {
        copy("llama3");
        edit(c -> c.addProperty("intermediate_size", 40));
        String m = refusal();
        assertTrue(m.contains("Llama") && m.contains("mlp.") && m.contains("model-0000") && m.contains("config.json"), m);
        edit(c -> {
            c.addProperty("intermediate_size", 48);
            c.addProperty("num_hidden_layers", 3);
        });
        m = refusal();
        assertTrue(m.contains("Llama") && m.contains("model.layers.2.") && m.contains("model.safetensors.index.json"), m);
    }

    @Test
    void oddValuesInEveryFieldLoadOrFailNamingConfigJson() throws IOException {
        copy("gemma2");
        String original = Files.readString(dir.resolve("config.json"));
        JsonElement[] odd = {new JsonPrimitive("x"), new JsonPrimitive(-1), new JsonPrimitive(0), new JsonPrimitive(2.5),
            new JsonPrimitive(1L << 40), new JsonPrimitive(1e300), new JsonPrimitive(true), JsonNull.INSTANCE, new JsonObject()};
        Map<String, Integer> outcomes = new TreeMap<>();
        for (String field : JsonParser.parseString(original).getAsJsonObject().keySet()) {
            for (JsonElement value : odd) {
                JsonObject c = JsonParser.parseString(original).getAsJsonObject();
                c.add(field, value);
                Files.writeString(dir.resolve("config.json"), c.toString());
                try {
                    HookedTransformer.fromPretrained(dir.toString()).close();
                    outcomes.merge("loaded", 1, Integer::sum);
                } catch (ModelLoadException e) {
                    assertTrue(e.getCause() instanceof ModelFileException && e.getMessage().contains("config.json"),
                            field + " = " + value + ": " + e.getMessage());
                    outcomes.merge("refused naming config.json", 1, Integer::sum);
                }
            }
        }
        assertEquals(2, outcomes.size(), outcomes.toString()); // some fields do not matter, and many do
        System.out.println("Gemma 2 config.json, each field set to each of " + odd.length + " odd values: " + outcomes);
    }

    private void edit(java.util.function.Consumer<JsonObject> change) throws IOException {
        JsonObject c = JsonParser.parseString(Files.readString(dir.resolve("config.json"))).getAsJsonObject();
        change.accept(c);
        Files.writeString(dir.resolve("config.json"), c.toString());
    }
}
