"""Behaviour tests of a served bundle (CheckList-style): cases generated from conf/behaviour.yaml, run through the
runtime predictor, pass rates per capability."""
