"""The only modules that import openvino, nncf, optimum, transformers, torch, datumaro, openvino_genai.

Always inside functions, so importing a backend module stays cheap.
"""
