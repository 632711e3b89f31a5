package dev.loupe.load;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.loupe.model.ModelConfig;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;

/** Edits the files of a saved model the way a corrupt download or a careless hand would. */
final class SavedFiles {

    /** A model small enough to save and load hundreds of times a second. */
    static final ModelConfig TINY = ModelConfig.builder().modelName("tiny").nLayers(2).dModel(8).nHeads(2)
            .dMlp(12).dVocab(11).nCtx(6).build();

    private SavedFiles() {}

    /** The safetensors file's JSON header, as bytes. */
    static byte[] header(byte[] file) {
        long length = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return Arrays.copyOfRange(file, 8, 8 + (int) length);
    }

    /** The safetensors file with another header (its length field updated) before the same data. */
    static byte[] withHeader(byte[] file, byte[] header) {
        int dataStart = 8 + header(file).length;
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + file.length - dataStart).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).put(file, dataStart, file.length - dataStart);
        return b.array();
    }

    /** Changes the header of {@code dir/model.safetensors} as JSON. */
    static void editHeader(Path dir, Consumer<JsonObject> edit) throws IOException {
        Path weights = dir.resolve("model.safetensors");
        byte[] file = Files.readAllBytes(weights);
        JsonObject json = JsonParser.parseString(new String(header(file), StandardCharsets.UTF_8)).getAsJsonObject();
        edit.accept(json);
        Files.write(weights, withHeader(file, json.toString().getBytes(StandardCharsets.UTF_8)));
    }

    /** Changes {@code dir/config.json} as JSON. */
    static void editConfig(Path dir, Consumer<JsonObject> edit) throws IOException {
        Path config = dir.resolve("config.json");
        JsonObject json = JsonParser.parseString(Files.readString(config)).getAsJsonObject();
        edit.accept(json);
        Files.writeString(config, json.toString());
    }
}
