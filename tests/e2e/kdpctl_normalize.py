#!/usr/bin/env python3
import sys
sys.stdout.write(sys.stdin.read())
