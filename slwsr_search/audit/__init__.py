"""The fidelity audit: how well a study's short screening ranks designs against a longer
reference training. Its store and the roles of its trainings (:mod:`.store`, plain JSON, no
torch), the designs and jobs it trains (:mod:`.trainings`, long references along a ladder too),
and the statistics (:mod:`.stats`: Kendall tau, Spearman rho, bootstrap intervals, cost-matched
pairs; :mod:`.horizons`: the same at every rung of a long reference, top-1 regret, crossovers;
numpy only, no torch).
Imports :mod:`slwsr_search.search` and the layers below it."""
