"""fusionrank.service"""
