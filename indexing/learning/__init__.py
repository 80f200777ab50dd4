"""Learning from feedback: training sets, fine-tuning, the promotion gate, the registry and
the zero-downtime switch."""
