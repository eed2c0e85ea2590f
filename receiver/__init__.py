"""Segment `Order Completed` events -> Trustpilot Business Generated Link invitations."""

__version__ = "0.1.0"
