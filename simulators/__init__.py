"""Simulators: one per port, plus the central account service and a scripted store day.

Each device simulator implements the same port as the real adapter it replaces and injects
its readings exactly where the real hardware would deliver them.
"""
