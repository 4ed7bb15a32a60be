"""A run's engine: plan, schedule, compile, classify outcomes, store results, reuse, bisect."""
