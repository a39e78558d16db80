"""fusionrank.envs"""
