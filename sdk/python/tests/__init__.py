"""Tests of the Duplex worker SDK (unittest; real gRPC over loopback)."""
