"""R-Tuning: refusal-aware instruction tuning (Zhang, Diao et al., NAACL 2024).

Probe a base model on its instruction data, split it into what the model knows (D1) and
what it does not (D0), build refusal-aware data (R-Tuning, R-Tuning-R, R-Tuning-U, Vanilla),
tune, and measure how well confidence separates right from wrong answers.
"""
