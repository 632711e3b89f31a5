// Run before the first cell of every Loupe notebook, and by ./loupe jshell: the public API in scope.
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.loupe.cache.ActivationCache;
import dev.loupe.display.Display;
import dev.loupe.display.Displayable;
import dev.loupe.display.MimeBundle;
import dev.loupe.hook.ActNames;
import dev.loupe.hook.Hook;
import dev.loupe.hook.HookPoint;
import dev.loupe.load.LoadOptions;
import dev.loupe.load.ModelRegistry;
import dev.loupe.load.Safetensors;
import dev.loupe.model.GenerateOptions;
import dev.loupe.model.HookedTransformer;
import dev.loupe.model.ModelConfig;
import dev.loupe.tensor.Tensors;
import dev.loupe.tokenize.Gpt2Tokenizer;
// display(x) shows x now and returns an id; Display.update(id, y) replaces it in place (progress, live curves).
import static dev.loupe.display.Display.display;
