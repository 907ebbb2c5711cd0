"""Benchmarks (``make bench``): each figure printed beside a limit measured in the same run.

Absolute times on shared machines are noisy, so every throughput is also given as a ratio to a
crypto-bound limit: the same signature operations done alone in a loop on this machine, now.
"""
