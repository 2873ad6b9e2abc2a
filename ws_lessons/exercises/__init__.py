"""The exercises: one module per lesson, holding its checks and their reference answers."""
