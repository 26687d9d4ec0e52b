# The soak test's memory over time (tests/soak/run.sh calls it with
#   gnuplot -e "out='PNG'; tsv='memory.tsv'; krel='KREL'" memory.gp
# on flat.py's TSV: t slab_kb sunreclaim_kb percpu_kb slab_percpu_kb l3dsr_entry_objs ok errors).
set terminal pngcairo size 1200,800 font ",11" noenhanced
set output out
set multiplot layout 2,1 title sprintf("Soak on %s: kernel memory a minute apart (after drop_caches)", krel)
set grid
set key below horizontal
set xlabel "minutes"
set ylabel "MiB"
plot tsv using ($1/60):($5/1024) with linespoints pt 7 lw 2 title "Slab + Percpu", \
     tsv using ($1/60):($3/1024) with linespoints pt 5 lw 2 title "SUnreclaim", \
     tsv using ($1/60):($4/1024) with linespoints pt 9 lw 2 title "Percpu"
set ylabel "count"
set y2label "exchanges / minute"
set y2tics
plot tsv using ($1/60):6 with linespoints pt 7 lw 2 title "l3dsr_entry objects", \
     tsv using ($1/60):7 axes x1y2 with linespoints pt 5 title "answered", \
     tsv using ($1/60):8 axes x1y2 with linespoints pt 9 title "errors"
unset multiplot
