"""Knowledge distillation: the transfer set, the teacher's cached logits, the loss."""
