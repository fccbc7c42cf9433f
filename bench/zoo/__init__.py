"""The bug zoo: classic training bugs planted in models, data and settings, and healthy references."""
