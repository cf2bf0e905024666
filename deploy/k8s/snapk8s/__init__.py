"""The parts of ``deploy/k8s/render.py``, which is their command line.

``processes`` describes the five processes once; ``workloads`` builds a process's ServiceAccount, Deployment,
Service, autoscaler and disruption budget; ``network`` its NetworkPolicy; ``topics`` the Strimzi KafkaTopics.
"""
