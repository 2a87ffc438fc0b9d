int vectors_cpu_placeholder(void);
