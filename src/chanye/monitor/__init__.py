"""Monitoring the 12218 targets: indicators computed as statistics bureaus compute them, each
cluster's status against its target, early warnings and the monthly report (docs/monitoring.md).

``conventions`` holds the bureau conventions as plain functions over numbers; the rest of the
package reads the registry's facts through ``RegistryView`` and the published figures.
"""
