"""The write side: plan an action, check gates, call the backend, record commits."""
