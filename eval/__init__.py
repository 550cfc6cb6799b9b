"""Evaluation: BEIR loaders, ranking metrics, runners, reports and the regression gate."""
