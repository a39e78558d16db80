"""fusionrank.agents"""
