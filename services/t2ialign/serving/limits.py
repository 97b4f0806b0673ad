"""Request limits, the same numbers the .proto field comments promise. Change both together."""

MAX_PROMPT_CHARS = 1000  # longer prompts are refused, not truncated (the toy CLIP reads 16 tokens anyway)
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # one encoded input image (common.proto ImageRef.data)
MAX_IMAGE_PIXELS = 4096 * 4096  # decoded size; refuses decompression bombs before decoding
MAX_SCORE_IMAGES = 256  # images per Score / Rank request
MAX_NUM_IMAGES = 16  # images returned per Generate request
MAX_BEST_OF_N = 64  # images generated per Generate request when filtering
MAX_INFERENCE_STEPS = 200
MAX_GUIDANCE_SCALE = 50.0
MAX_SEED = 2**63 - 1
# gRPC message size, set explicitly on the Serve proxy (RAY_SERVE_GRPC_MAX_MESSAGE_SIZE) and on clients:
# large enough that an oversized image reaches the service and gets a clear INVALID_ARGUMENT.
GRPC_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
