"""Model components: CLIP backbones, the toy generator pipeline, and checkpoint I/O."""
