module aepedge

go 1.21
