"""The LightningModules and what they are built from: pretrained encoders, metrics."""
