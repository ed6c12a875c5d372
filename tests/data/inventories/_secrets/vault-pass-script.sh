#!/bin/sh
echo corpus-vault-pw
