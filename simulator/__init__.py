"""fusionrank.simulator"""
