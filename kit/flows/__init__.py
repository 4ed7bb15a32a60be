"""One module per command's logic, no click: run a matrix, bisect, doctor."""
