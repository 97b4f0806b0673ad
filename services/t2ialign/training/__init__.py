"""Training recipes: toy CLIP and generator pre-training, reward model, reward-weighted fine-tuning."""
