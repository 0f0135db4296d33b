module aepedge

go 1.19
