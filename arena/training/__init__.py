"""GRPO training: config, whole-game rollouts, warm-up, exploration and the training job."""
