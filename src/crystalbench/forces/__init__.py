"""The S2EF branch: OC20 and EMT frames, full-cell force graphs, ForceNet training and studies."""
