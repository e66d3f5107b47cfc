"""Predictions from the marts: win probability, lead scores, the pipeline forecast, and their backtests."""
