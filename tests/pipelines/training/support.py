"""What the training node tests share: their feature settings."""

FEATURES = {
    "windows_days": [28, 91, 364],
    "block_days": 42,
    "block_offsets_days": [0, 14, 28],
    "min_history_days": 91,
    "easter_window_days": 70,
}
