"""Equal-budget benchmarks of deep and classical learners on biological data.

Every learner gets the same Optuna budget on the same nested cross-validation splits; Ray runs the
searches; the report states what tuning bought and whether deep learning was warranted.
"""
__version__ = "0.1.0"
