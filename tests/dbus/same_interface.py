#!/usr/bin/env python3
"""Compares one D-Bus interface in two introspection XML documents, ignoring whitespace,
comments and the order of attributes. Usage: same_interface.py INTERFACE A.xml B.xml
Exit 0 when equal; otherwise print both renderings and exit 1."""
import sys
import xml.etree.ElementTree as ET


def load(path):
    text = open(path, encoding="utf-8").read()
    # dbus-send --print-reply=literal indents the string; the document starts at '<'.
    return ET.fromstring(text[text.index("<"):].strip())


def canonical(element, depth=0):
    attributes = " ".join(f'{k}="{v}"' for k, v in sorted(element.attrib.items()))
    lines = ["  " * depth + f"<{element.tag} {attributes}>".replace(" >", ">")]
    for child in element:
        if isinstance(child.tag, str):  # comments and processing instructions are not
            lines += canonical(child, depth + 1)
    return lines


def interface(root, name, path):
    for element in root.iter("interface"):
        if element.get("name") == name:
            return canonical(element)
    sys.exit(f"{path}: no <interface name=\"{name}\">")


name, a_path, b_path = sys.argv[1:4]
a = interface(load(a_path), name, a_path)
b = interface(load(b_path), name, b_path)
if a != b:
    print(f"--- {a_path}\n" + "\n".join(a) + f"\n--- {b_path}\n" + "\n".join(b))
    sys.exit(1)
print(f"{name}: {len(a)} elements identical")
