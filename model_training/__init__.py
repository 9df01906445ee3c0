"""The training world: CoLA data, Lightning fine-tuning, W&B tracking, Hydra configuration."""
