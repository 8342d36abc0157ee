"""Live demos: SGD regression and t-SNE."""
