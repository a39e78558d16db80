"""fusionrank.evaluation: is a new ranking policy better, and by how much?

* :mod:`.ab`: simulated A/B tests, both arms on the same traffic with common random
  numbers, per-session metrics (purchases, revenue, clicks, CTR, abandonment, nDCG@k);
* :mod:`.stats`, :mod:`.power`, :mod:`.sequential`: paired lifts with normal and bootstrap
  intervals, p-values and minimum detectable effects; power and sample size for a live
  test; an always-valid mSPRT;
* :mod:`.interleaving`: team-draft interleaving, credit, win rate, sessions needed;
* :mod:`.ope`: off-policy estimators (IPS, SNIPS, DM, DR, SNDR, PBM-IPS) on logs with
  propensities, and the Open Bandit Dataset check;
* :mod:`.report`, :mod:`.sections`, :mod:`.plots`: self-contained HTML reports;
* :mod:`.traffic`, :mod:`.rankers`, :mod:`.shopworld`: query traffic, relevance judges,
  table-driven rankers, and ShopWorld's hidden truth in those roles;
* :mod:`.policies`, :mod:`.context`: saved or built-in ranking policies as A/B arms (each
  query ranked once through the retriever), and a run's users and traffic;
* :mod:`.abtest`, :mod:`.compare`: ``fusionrank ab`` (two policies, A/B, mSPRT and
  interleaving on the fitted simulator and the hidden users) and ``fusionrank evaluate``
  (:func:`~.compare.compare_policies`: every policy of a run on the same traffic).

Nothing is imported here, so that loading the run configuration (which imports
:mod:`.config`) stays light.
"""
