"""What the reference scripts (reference-mmlu.py, reference-bbh.py, reference-wikitext.py)
share: midllama-eval's `--subset FRACTION --seed S` selection (runtime/eval/Subset.cpp),
re-implemented so that lm-evaluation-harness scores exactly the items midllama-eval
scores, and the harness's model arguments."""
import math

MASK = (1 << 64) - 1


def subset_of(subject, count, fraction, seed):
    """runtime/eval/Subset.cpp's subsetOf: the kept indices, sorted."""
    if fraction >= 1:
        return list(range(count))
    h = 1469598103934665603
    for c in subject.encode():
        h = ((h ^ c) * 1099511628211) & MASK
    state = (seed ^ h) & MASK
    order = list(range(count))

    def nxt():
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    for i in range(count, 1, -1):
        j = nxt() % i
        order[i - 1], order[j] = order[j], order[i - 1]
    keep = min(count, math.ceil(fraction * count))
    return sorted(order[:keep])


def add_model_arguments(parser):
    """--model and --add-bos-token, as every reference script takes them."""
    parser.add_argument("--model", help="a Hugging Face model directory")
    parser.add_argument("--add-bos-token", choices=["True", "False"],
                        help="the harness's add_bos_token (default: the tokenizer's own). "
                        "SmolLM2 needs False: transformers' tokenizer made from its GGUF "
                        "adds <|im_start|> although the GGUF says add_bos_token false")


def model_args(a, extra=""):
    """The harness's model_args for transformers in fp32 (`extra`: more "key=value,")."""
    return (f"pretrained={a.model},dtype=float32" +
            (f",add_bos_token={a.add_bos_token}" if a.add_bos_token else "") + extra)
