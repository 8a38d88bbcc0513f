# One of the benchmark's charts, as PNG, from a table that `herald-bench report --charts DIR`
# wrote (cpu.dat, latency.dat or memory.dat); the PNG goes beside it:
#   gnuplot -e "table='docs/benchmarks/cpu.dat'" tools/bench/charts.gp
# A table: a header row (its first name, then one per server), then a row per bar group; "-"
# where a server has no figure. One bar per server in each group.
if (!exists("table")) print "charts.gp: give -e \"table='DIR/NAME.dat'\""; exit status 2

name = system("basename '".table."' .dat")
servers = system("head -1 '".table."' | wc -w") - 1

set terminal pngcairo size 960,480 font "sans,11"
set output system("dirname '".table."'")."/".name.".png"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set key outside right top autotitle columnheader
set grid ytics
set yrange [0:*]

if (name eq "cpu") {
    set title "Server CPU per delivery, by scenario (lower is better)"
    set ylabel "µs"
} else {
    if (name eq "latency") {
        set title "Latency at a fixed rate, from the publish to the receipt (lower is better)"
        set ylabel "ms"
        set logscale y
        set yrange [*:*]
    } else {
        set title "Memory per idle logged-in connection, PSS (lower is better)"
        set ylabel "KiB"
        set xlabel "connections held"
    }
}

plot for [i=2:servers+1] table using i:xtic(1)
