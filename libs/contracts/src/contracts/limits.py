"""Size limits shared by polls, questions, answers and frames."""

MAX_OPTIONS = 20
MIN_OPTIONS = 2
MAX_QUESTION_CHARS = 300
MAX_OPTION_CHARS = 120
