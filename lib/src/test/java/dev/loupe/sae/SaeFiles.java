package dev.loupe.sae;

import ai.djl.ndarray.types.Shape;

import dev.loupe.load.Safetensors;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * SAE files written byte by byte, as SAELens, safetensors and numpy lay them out, for the tests to read: values are
 * multiples of 1/8 in [-2, 2], exact in float16 and bfloat16, so every storage type must give them back unchanged.
 */
public final class SaeFiles {

    private SaeFiles() {}

    /** The i-th test value of a tensor. */
    public static float value(String tensor, int i) {
        return (Math.floorMod(i * 7 + tensor.hashCode(), 33) - 16) / 8f;
    }

    public static float[] values(String tensor, Shape shape) {
        float[] v = new float[(int) shape.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = value(tensor, i);
        }
        return v;
    }

    /** The keys and values of gpt2-small-res-jb's published flat cfg.json, as SAELens's own tests record them. */
    public static String flatGpt2JbCfg(String hookPoint, int layer, int dIn, int dSae) {
        return "{\"model_name\": \"gpt2-small\", \"hook_point\": \"" + hookPoint + "\", \"hook_point_layer\": " + layer + ","
                + " \"hook_point_head_index\": null, \"dataset_path\": \"Skylion007/openwebtext\", \"is_dataset_tokenized\": false,"
                + " \"context_size\": 128, \"use_cached_activations\": false, \"cached_activations_path\":"
                + " \"activations/Skylion007_openwebtext/gpt2-small/" + hookPoint + "\", \"d_in\": " + dIn + ","
                + " \"n_batches_in_buffer\": 128, \"total_training_tokens\": 300000000, \"store_batch_size\": 32,"
                + " \"device\": \"mps\", \"seed\": 42, \"dtype\": \"torch.float32\", \"b_dec_init_method\": \"geometric_median\","
                + " \"expansion_factor\": 32, \"from_pretrained_path\": null, \"l1_coefficient\": 8e-05, \"lr\": 0.0004,"
                + " \"lr_scheduler_name\": null, \"lr_warm_up_steps\": 5000, \"train_batch_size\": 4096,"
                + " \"use_ghost_grads\": false, \"feature_sampling_window\": 1000, \"feature_sampling_method\": null,"
                + " \"resample_batches\": 1028, \"feature_reinit_scale\": 0.2, \"dead_feature_window\": 5000,"
                + " \"dead_feature_estimation_method\": \"no_re_init\", \"dead_feature_threshold\": 1e-08, \"log_to_wandb\": true,"
                + " \"wandb_project\": \"mats_sae_training_gpt2_small_resid_pre_5\", \"wandb_entity\": null,"
                + " \"wandb_log_frequency\": 100, \"n_checkpoints\": 10, \"checkpoint_path\": \"checkpoints/y1t51byy\","
                + " \"d_sae\": " + dSae + ", \"tokens_per_buffer\": 67108864, \"run_name\": \"" + dSae
                + "-L1-8e-05-LR-0.0004-Tokens-3.000e+08\"}";
    }

    /**
     * The key set SAELens 6's {@code save_model} writes for a TopK SAE ({@code cfg.to_dict()}): the computation at the
     * top, what it was trained on under metadata.
     */
    public static String currentTopKCfg(String hookName, int dIn, int dSae, int k) {
        return "{\"d_in\": " + dIn + ", \"d_sae\": " + dSae + ", \"dtype\": \"float32\", \"device\": \"cpu\","
                + " \"apply_b_dec_to_input\": false, \"normalize_activations\": \"none\", \"reshape_activations\": \"none\","
                + " \"metadata\": {\"sae_lens_version\": \"6.5.1\", \"sae_lens_training_version\": \"6.5.1\","
                + " \"model_name\": \"pythia-70m-deduped\", \"hook_name\": \"" + hookName + "\", \"hook_head_index\": null,"
                + " \"context_size\": 1024, \"prepend_bos\": true, \"seqpos_slice\": [null], \"model_from_pretrained_kwargs\": {},"
                + " \"dataset_path\": \"NeelNanda/pile-small-tokenized-2b\", \"neuronpedia_id\": null},"
                + " \"k\": " + k + ", \"rescale_acts_by_decoder_norm\": true, \"architecture\": \"topk\"}";
    }

    /** Tensors of these shapes in a safetensors file, stored as F32, F16, BF16 or F64. */
    public static byte[] safetensors(Map<String, Shape> shapes, String dtype) throws IOException {
        Map<String, float[]> values = new LinkedHashMap<>();
        shapes.forEach((name, shape) -> values.put(name, values(name, shape)));
        return safetensors(values, shapes, dtype);
    }

    public static byte[] safetensors(Map<String, float[]> values, Map<String, Shape> shapes, String dtype) throws IOException {
        List<Safetensors.Source> sources = new ArrayList<>();
        for (Map.Entry<String, float[]> e : values.entrySet()) {
            byte[] bytes = encode(e.getValue(), dtype);
            sources.add(new Safetensors.Source(e.getKey(), dtype, shapes.get(e.getKey()).getShape(), bytes.length,
                    out -> out.write(bytes)));
        }
        Path tmp = Files.createTempFile("sae", ".safetensors");
        try {
            Safetensors.write(tmp, sources);
            return Files.readAllBytes(tmp);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Little-endian bytes of the values as F32, F16, BF16 or F64 (numpy: f4, f2, f8). */
    public static byte[] encode(float[] v, String dtype) {
        int size = switch (dtype) {
            case "F16", "BF16" -> 2;
            case "F64" -> 8;
            default -> 4;
        };
        ByteBuffer b = ByteBuffer.allocate(v.length * size).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            switch (dtype) {
                case "F16" -> b.putShort(half(x));
                case "BF16" -> b.putShort((short) (Float.floatToIntBits(x) >>> 16));
                case "F64" -> b.putDouble(x);
                default -> b.putFloat(x);
            }
        }
        return b.array();
    }

    /** IEEE half of a value it holds exactly (zero or a normal number). */
    private static short half(float x) {
        if (x == 0) {
            return 0;
        }
        int bits = Float.floatToIntBits(x);
        int sign = (bits >>> 16) & 0x8000;
        int exponent = ((bits >>> 23) & 0xFF) - 127 + 15;
        return (short) (sign | exponent << 10 | (bits & 0x7FFFFF) >>> 13);
    }

    /** An .npy file: magic, version, the padded dict header, data. */
    public static byte[] npy(int version, String descr, boolean fortran, long[] shape, byte[] data) {
        StringBuilder dims = new StringBuilder("(");
        for (long d : shape) {
            dims.append(d).append(shape.length == 1 ? ",)" : ", ");
        }
        String shapeText = shape.length == 1 ? dims.toString() : dims.toString().replaceAll(", $", "") + ")";
        return npyWithHeader(version, "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False")
                + ", 'shape': " + shapeText + ", }", data);
    }

    public static byte[] npyWithHeader(int version, String dict, byte[] data) {
        int prefix = 6 + 2 + (version == 1 ? 2 : 4);
        StringBuilder header = new StringBuilder(dict);
        while ((prefix + header.length() + 1) % 64 != 0) {
            header.append(' ');
        }
        header.append('\n');
        byte[] text = header.toString().getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(prefix + text.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) version, 0});
        if (version == 1) {
            b.putShort((short) text.length);
        } else {
            b.putInt(text.length);
        }
        return b.put(text).put(data).array();
    }

    /** A zip of {@code name.npy} entries: stored, as np.savez writes, or deflated, as np.savez_compressed. */
    public static byte[] npz(Map<String, byte[]> arrays, boolean deflate) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            for (Map.Entry<String, byte[]> e : arrays.entrySet()) {
                ZipEntry entry = new ZipEntry(e.getKey() + ".npy");
                if (!deflate) {
                    CRC32 crc = new CRC32();
                    crc.update(e.getValue());
                    entry.setMethod(ZipEntry.STORED);
                    entry.setSize(e.getValue().length);
                    entry.setCrc(crc.getValue());
                }
                zip.putNextEntry(entry);
                zip.write(e.getValue());
                zip.closeEntry();
            }
        }
        return bytes.toByteArray();
    }

    /** Gemma Scope's params.npz for a JumpReLU SAE of these sizes, float32, little-endian, C order. */
    public static byte[] gemmaScopeNpz(int dIn, int dSae, boolean deflate) throws IOException {
        Map<String, byte[]> arrays = new LinkedHashMap<>();
        Sae.parameterShapes(SaeConfig.standard("x", dIn, dSae).withArchitecture(SaeConfig.Architecture.JUMPRELU, 0))
                .forEach((name, shape) -> arrays.put(name, npy(1, "<f4", false, shape.getShape(), encode(values(name, shape), "F32"))));
        return npz(arrays, deflate);
    }

    /** A safetensors file's JSON header. */
    public static String header(byte[] file) {
        long length = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return new String(file, 8, (int) length, StandardCharsets.UTF_8);
    }

    /** The file with another header and the same data. */
    public static byte[] withHeader(byte[] file, String header) {
        int dataStart = 8 + header(file).getBytes(StandardCharsets.UTF_8).length;
        byte[] text = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + text.length + file.length - dataStart).order(ByteOrder.LITTLE_ENDIAN);
        return b.putLong(text.length).put(text).put(file, dataStart, file.length - dataStart).array();
    }
}
